/**
 * The schema, as numbered steps. A step is never edited once released: change the schema
 * by appending a step. Rows hold JSON text beside the few columns that are searched, so
 * most changes of a record's shape need no migration at all.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE registrations (
        id TEXT PRIMARY KEY,
        endpoint TEXT NOT NULL UNIQUE,
        data TEXT NOT NULL
      );
      CREATE TABLE security (
        endpoint TEXT PRIMARY KEY,
        psk_identity TEXT UNIQUE,
        summary TEXT NOT NULL,
        sealed BLOB NOT NULL
      );
      CREATE TABLE bootstrap_configs (
        endpoint TEXT PRIMARY KEY,
        sealed BLOB NOT NULL
      );
      CREATE TABLE queued_requests (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        endpoint TEXT NOT NULL,
        data TEXT NOT NULL
      );
      CREATE INDEX queued_requests_endpoint ON queued_requests (endpoint, seq);
      CREATE TABLE observations (
        id TEXT PRIMARY KEY,
        endpoint TEXT NOT NULL,
        data TEXT NOT NULL
      );
      CREATE INDEX observations_endpoint ON observations (endpoint);
      CREATE TABLE firmware_images (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        data TEXT NOT NULL
      );
      CREATE TABLE campaigns (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        data TEXT NOT NULL
      );
      CREATE TABLE rollout_states (
        campaign_id TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        revision INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (campaign_id, endpoint)
      );
      CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        subject TEXT,
        data TEXT NOT NULL
      );
      CREATE INDEX audit_log_subject ON audit_log (subject, seq);
    `,
  },
  {
    version: 2,
    name: 'registration tombstones',
    // A de-registration is written at once by the main thread while older puts of the same
    // id may still be on their way through the writer thread: the tombstone stops them.
    sql: 'CREATE TABLE registration_tombstones (id TEXT PRIMARY KEY)',
  },
  {
    version: 3,
    name: 'firmware deliveries',
    // One row per (device, image) delivery of src/firmware/delivery; the JSON holds the state machine's record.
    sql: `
      CREATE TABLE firmware_deliveries (
        id TEXT PRIMARY KEY,
        endpoint TEXT NOT NULL,
        image_id TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        data TEXT NOT NULL
      );
      CREATE INDEX firmware_deliveries_endpoint ON firmware_deliveries (endpoint, created_at);
      CREATE INDEX firmware_deliveries_image ON firmware_deliveries (image_id, state);
    `,
  },
  {
    version: 4,
    name: 'security profiles and device pairings',
    // src/firmware/profiles: profiles as data, device types and devices paired with them.
    // `sealed` holds MAC secrets (SecretBox); profile_seed records that the tier defaults were written once.
    sql: `
      CREATE TABLE security_profiles (
        name TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        sealed BLOB
      );
      CREATE TABLE profile_device_types (
        device_type TEXT PRIMARY KEY,
        data TEXT NOT NULL
      );
      CREATE TABLE profile_devices (
        endpoint TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        sealed BLOB
      );
      CREATE TABLE profile_seed (version INTEGER PRIMARY KEY);
    `,
  },
  {
    version: 5,
    name: 'registrations keyed by endpoint',
    // One b-tree per registration write instead of three: every lookup is served from
    // memory after startup, so only the endpoint (what a put replaces) needs a key. The row
    // becomes the positional JSON array of registration-codec.ts; an old row that does not
    // convert ends up unreadable and is dropped at load (that device registers again).
    // Object links move to a numbered side table as devices write again; converted rows
    // keep theirs inline. Tombstones become per endpoint, with the batch number they stop.
    sql: `
      CREATE TABLE registration_links (
        id INTEGER PRIMARY KEY,
        links TEXT NOT NULL
      );
      CREATE TABLE registrations_by_endpoint (
        endpoint TEXT PRIMARY KEY,
        data TEXT NOT NULL
      ) WITHOUT ROWID;
      INSERT OR REPLACE INTO registrations_by_endpoint (endpoint, data)
        SELECT endpoint, json_array(
          data ->> '$.id', data ->> '$.lifetimeSec', data ->> '$.lwm2mVersion', data ->> '$.binding',
          data ->> '$.queueMode', data ->> '$.smsNumber', data ->> '$.address.address', data ->> '$.address.port',
          data ->> '$.rootPath', data ->> '$.links', data ->> '$.registeredAt',
          (data ->> '$.lastUpdateAt') - (data ->> '$.registeredAt'),
          (data ->> '$.expiresAt') - (data ->> '$.lastUpdateAt'))
        FROM registrations WHERE json_valid(data);
      DROP TABLE registrations;
      ALTER TABLE registrations_by_endpoint RENAME TO registrations;
      DROP TABLE registration_tombstones;
      CREATE TABLE registration_tombstones (
        endpoint TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 6,
    name: 'device tags',
    // Operator tags of devices for rollout targeting (src/rollout/device-tags.ts): a JSON array per endpoint.
    sql: `
      CREATE TABLE device_tags (
        endpoint TEXT PRIMARY KEY,
        tags TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 7,
    name: 'registration time base',
    // A row's registeredAt becomes an offset from this column (registration-codec.ts), so
    // the hot path formats small integers instead of 13-digit timestamps. Existing rows
    // hold the absolute time, which is an offset from 0: nothing to convert.
    sql: 'ALTER TABLE registrations ADD COLUMN time_base INTEGER NOT NULL DEFAULT 0',
  },
  {
    version: 8,
    name: 'registration shapes',
    // What devices of one type send alike (lifetime, version, binding, queue mode, SMS
    // number, root path, link set) leaves the row for this table, numbered
    // (registration-codec.ts): rows shrink from 13 fields to 6. Older rows stay readable
    // as they are and take the new form when their device writes again.
    sql: `
      CREATE TABLE registration_shapes (
        id INTEGER PRIMARY KEY,
        shape TEXT NOT NULL
      );
    `,
  },
  {
    version: 9,
    name: 'registration log',
    // Registration writes are appended, a batch at a time, instead of replacing one row per
    // endpoint (registration-sql.ts): a batch costs one insert, not a b-tree insert per
    // device. pos orders the entries; entries is a JSON array of rows. The rows of the
    // table registrations stay readable (older than any entry) until the first rewrite of
    // the log moves them in; tombstones are no longer needed (a de-registration is an entry).
    sql: `
      CREATE TABLE registration_log (
        pos INTEGER NOT NULL,
        time_base INTEGER NOT NULL,
        entries TEXT NOT NULL
      );
      DROP TABLE registration_tombstones;
    `,
  },
];
