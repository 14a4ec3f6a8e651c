// A stand-in for the browser's EventSource (jsdom has none): tests push server-sent events.
type Listener = (event: MessageEvent<string>) => void;

export class FakeEventSource {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static instances: FakeEventSource[] = [];

  readonly url: string;
  readyState = FakeEventSource.OPEN;
  private listeners = new Map<string, Set<Listener>>();

  constructor(url: string | URL) {
    this.url = String(url);
    FakeEventSource.instances.push(this);
  }

  addEventListener(type: string, listener: Listener) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type)!.add(listener);
  }

  removeEventListener(type: string, listener: Listener) {
    this.listeners.get(type)?.delete(listener);
  }

  close() {
    this.readyState = FakeEventSource.CLOSED;
  }

  /** Deliver `event: <type>` with `data` as JSON. */
  emit(type: string, data: unknown) {
    const event = new MessageEvent(type, { data: JSON.stringify(data) });
    this.listeners.get(type)?.forEach((listener) => listener(event));
  }

  /** The server ended the stream: the browser reports an error and would reconnect. */
  end() {
    this.readyState = FakeEventSource.CONNECTING;
    this.listeners.get('error')?.forEach((listener) => listener(new MessageEvent('error')));
  }

  static latest(urlPart: string): FakeEventSource | undefined {
    return [...FakeEventSource.instances]
      .reverse()
      .find((s) => s.url.includes(urlPart) && s.readyState !== FakeEventSource.CLOSED);
  }
}
