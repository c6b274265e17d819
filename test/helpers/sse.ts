/** Reads a server-sent event stream over a real HTTP connection. */
import http from 'node:http';

export interface EventStream {
  /** The data (parsed JSON) of the next event with this name, waiting at most `ms`. */
  next(eventName: string, ms: number): Promise<any>;
  close(): void;
}

export function openEventStream(url: string): Promise<EventStream> {
  return new Promise((resolveOpen, rejectOpen) => {
    const received: { event: string; data: any }[] = [];
    let wake: (() => void) | undefined;
    const request = http.get(url, (response) => {
      if (response.statusCode !== 200) {
        rejectOpen(new Error(`${url} answered ${response.statusCode}`));
        return;
      }
      let buffered = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffered += chunk;
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) {
            received.push({ event, data: JSON.parse(data) });
            wake?.();
          }
        }
      });
      resolveOpen({
        async next(eventName, ms) {
          const deadline = Date.now() + ms;
          for (;;) {
            const index = received.findIndex((e) => e.event === eventName);
            if (index >= 0) return received.splice(index, 1)[0].data;
            const left = deadline - Date.now();
            if (left <= 0) throw new Error(`no ${eventName} event within ${ms} ms (got ${received.map((e) => e.event).join(', ') || 'none'})`);
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, left);
              wake = () => {
                clearTimeout(timer);
                resolve();
              };
            });
          }
        },
        close() {
          request.destroy();
        },
      });
    });
    request.on('error', rejectOpen);
  });
}
