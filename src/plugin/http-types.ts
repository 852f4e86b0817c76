// What one HTTP exchange of the plugin's (http-fetch.ts) takes and gives.

export interface Exchange {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string | undefined;
  /** Replies with a larger body are refused (`TooLarge`). */
  maxBodyBytes: number;
  tls?: { ca?: string; cert?: string; key?: string };
  /** Called once the request has been handed to the socket (the caller may work meanwhile). */
  onSent?: (() => void) | undefined;
}

export interface Reply {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** The reply's body is larger than allowed. */
export class TooLarge extends Error {}
/** The connection failed or the reply could not be read (worth another attempt). */
export class TransportError extends Error {}
