// Server-sent events read with fetch, so that the bearer token travels in the Authorization
// header (EventSource cannot send one, and a token in the URL would land in access logs).
// Reconnects after `retry` ms, resuming from the last event id like EventSource does.
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

export function parseSse(chunk: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  const blocks = chunk.split(/\r?\n\r?\n/);
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    const ev: SseEvent = { event: "message", data: "" };
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (!line || line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (field === "data") data.push(value);
      else if (field === "event") ev.event = value;
      else if (field === "id") ev.id = value;
    }
    if (data.length) {
      ev.data = data.join("\n");
      events.push(ev);
    }
  }
  return { events, rest };
}

export function subscribe(
  url: string,
  token: string,
  onEvent: (e: SseEvent) => void,
  onOpen: () => void = () => undefined,
): () => void {
  const controller = new AbortController();
  let lastId: string | undefined;
  const run = async () => {
    while (!controller.signal.aborted) {
      try {
        const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: "text/event-stream" };
        if (lastId) headers["Last-Event-ID"] = lastId;
        const resp = await fetch(url, { headers, signal: controller.signal });
        if (!resp.ok || !resp.body) throw new Error(String(resp.status));
        onOpen();
        const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const parsed = parseSse(buffer + value);
          buffer = parsed.rest;
          for (const ev of parsed.events) {
            if (ev.id) lastId = ev.id;
            onEvent(ev);
          }
        }
      } catch {
        if (controller.signal.aborted) return;
      }
      await new Promise((r) => setTimeout(r, 3000));
    }
  };
  void run();
  return () => controller.abort();
}
