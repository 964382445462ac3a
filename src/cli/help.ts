import { DEFAULT_LIMITS, DEFAULT_TIMEOUTS } from '../config/options.ts';

export const HELP = `h2ws: WebSocket over HTTP/2 (RFC 8441) gateway to HTTP/1.1 WebSocket backends

Usage:
  h2ws [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE | --self-signed]
       [--backend WS_URL] [--http-backend HTTP_URL] [--static DIR] [--rewrite-host]
       [--route PATH_PREFIX=WS_URL|HTTP_URL]... [--config FILE.json]
       [--trusted-proxy ADDR]... [--admin-listen HOST:PORT] [--no-metrics]
       [--log-level LEVEL] [--log-format json|pretty] [--workers N|auto]
       [--help] [--version]
  h2ws --check-config FILE.json [flags]

Options:
  --listen HOST:PORT     Address to listen on. Default 127.0.0.1:8443 with TLS,
                         127.0.0.1:8080 without. Use port 0 for any free port.
  --tls-cert FILE        PEM certificate chain; serves TLS with ALPN h2 and http/1.1.
  --tls-key FILE         PEM private key for --tls-cert.
  --self-signed          Serve TLS with a certificate made at start-up (for trying out).
                         Without any TLS option h2ws serves cleartext: h2c with prior
                         knowledge and HTTP/1.1 on the same port.
  --backend WS_URL       Default route: every WebSocket path goes to this backend
                         (ws://host:port[/path] or wss://...).
  --http-backend HTTP_URL
                         Default HTTP upstream: every request that is not a WebSocket
                         handshake goes to this app (http://host:port[/path] or https://),
                         streamed both ways. With --backend on the same path, WebSocket
                         handshakes go there and everything else here.
  --static DIR           Serve the files in DIR at / (content types, ETag, ranges); a
                         missing file goes on to --http-backend, or 404.
  --rewrite-host         Send HTTP upstreams their own host:port as Host (and the
                         client's in X-Forwarded-Host). Default: the client's Host.
  --route PREFIX=URL     Route paths under PREFIX to URL; repeatable. A ws:// or wss://
                         URL takes WebSocket handshakes, an http:// or https:// URL
                         takes every other request (both may name one PREFIX). The longest
                         prefix wins, prefixes match whole path segments (case-
                         sensitively), and a path with no route gets 404. Paths are
                         normalized first ("..", "//", %-encoded unreserved characters;
                         unsafe ones get 400). A backend URL with a path replaces the
                         prefix; one without gets the client's normalized path.
  --trusted-proxy ADDR   An IP address or CIDR range (10.0.0.0/8, 2001:db8::/32) of a
                         proxy in front of h2ws; repeatable, and replaces the config's
                         "trustedProxies". Its X-Forwarded-For and Forwarded reach the
                         backend with h2ws's hop appended, and its X-Real-IP is kept.
                         Everyone else's are replaced by the client address h2ws saw.
  --config FILE.json     JSON config with the same fields plus limits and timeouts.
                         Flags override the file.
  --admin-listen HOST:PORT
                         Serve /metrics, /healthz, /readyz and /status on this separate
                         listener instead of the main one.
  --no-metrics           Do not serve Prometheus metrics at /metrics.
  --log-level LEVEL      debug, info (default), warn, error or silent.
  --log-format FORMAT    json or pretty. Default: pretty on a terminal, json otherwise.
  --workers N|auto       Serve the address from N worker processes (auto: one per
                         CPU) under a supervisor that restarts any that dies.
                         Default 1. limits.maxTunnels is split between them.
  --check-config FILE    Read FILE (and any other flags) as a start would, start
                         nothing, print a summary and exit 0, or print what is wrong
                         and exit 2.
  --help                 Show this help.
  --version              Print the version.

With no --backend, --http-backend, --static, --route or config route, h2ws starts its
embedded demo: an echo/chat backend in-process and a demo page at /.

Config file (every field optional):
  {
    "listen": "127.0.0.1:8443",
    "tls": { "cert": "cert.pem", "key": "key.pem" },   or   "selfSigned": true,
    "backend": "ws://127.0.0.1:9000",
    "httpBackend": "http://127.0.0.1:3000",
    "static": "./public",
    "rewriteHost": false,
    "routes": { "/chat": "ws://127.0.0.1:9001", "/api": "http://127.0.0.1:4000",
                "/live": { "backend": "ws://127.0.0.1:9002", "http": "http://127.0.0.1:4001" },
                "/docs": { "static": "./docs" } },
    "trustedProxies": ["10.0.0.0/8"],
    "limits": {
      "maxTunnels": ${DEFAULT_LIMITS.maxTunnels},
      "maxStreamsPerConnection": ${DEFAULT_LIMITS.maxStreamsPerConnection},
      "maxHeaderListSize": ${DEFAULT_LIMITS.maxHeaderListSize},
      "maxBufferedBytesPerTunnel": ${DEFAULT_LIMITS.maxBufferedBytesPerTunnel}
    },
    "timeouts": {
      "handshakeMs": ${DEFAULT_TIMEOUTS.handshakeMs},
      "backendConnectMs": ${DEFAULT_TIMEOUTS.backendConnectMs},
      "backendUpgradeMs": ${DEFAULT_TIMEOUTS.backendUpgradeMs},
      "idleMs": ${DEFAULT_TIMEOUTS.idleMs},
      "drainMs": ${DEFAULT_TIMEOUTS.drainMs},
      "closeGraceMs": ${DEFAULT_TIMEOUTS.closeGraceMs},
      "pingIntervalMs": ${DEFAULT_TIMEOUTS.pingIntervalMs},
      "upstreamResponseMs": ${DEFAULT_TIMEOUTS.upstreamResponseMs}
    },
    "admin": { "listen": "127.0.0.1:9100", "metrics": true, "status": true },
    "log": { "level": "info", "format": "json" },
    "workers": 1
  }

Operations: GET /healthz, /readyz (503 once draining), /metrics (Prometheus) and
/status (a live page) on the main listener, or on --admin-listen.

Signals: SIGTERM or SIGINT drain gracefully (GOAWAY, then open tunnels get up to
timeouts.drainMs), then h2ws exits 0; with workers, all of them drain. SIGHUP
re-reads --config and the TLS files: new handshakes get the new routes, access
rules, limits, timeouts and certificate, open tunnels carry on, and a bad config is
logged and ignored. Bad flags or config exit 2.

Client: h2ws client URL sends stdin lines as messages and prints what arrives, over
RFC 8441 when the server offers it (h2ws client --help).

Runs the same under Node, Deno and Bun:
  node bin/h2ws.js ...   deno run -A bin/h2ws.js ...   bun bin/h2ws.js ...
`;
