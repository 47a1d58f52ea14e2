"""Fixtures' building blocks for the bad-input tables: a local HTTP server that records
every request (XML parsing must never reach it) and a file whose content must never leak."""

from __future__ import annotations

import http.server
import os
import threading

from bad_inputs import SECRET_MARKER


class RecordingServer(object):
    """An HTTP server on 127.0.0.1 (random port) that records and answers every request."""

    def __init__(self):
        requests = self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802  (http.server's naming)
                requests.append(self.path)
                body = b'<!ENTITY leak "DOMAINOPS-HTTP-CONTENT">'
                self.send_response(200)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        return False


def secret_file(directory):
    path = os.path.join(directory, 'secret.txt')
    with open(path, 'w') as handle:
        handle.write(SECRET_MARKER + '\n')
    return path
