"""A webhook receiver that checks each delivery with the Standard Webhooks library.

    pip install standardwebhooks
    WEBHOOK_SECRET=whsec_... python3 docs/examples/webhook_receiver.py [PORT]   # default 9000
"""
import http.server
import os
import sys

from standardwebhooks import Webhook

hook = Webhook(os.environ["WEBHOOK_SECRET"])
seen = set()


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            event = hook.verify(body, dict(self.headers))  # the signature and the timestamp
        except Exception as refused:
            print("refused:", refused, flush=True)
            self.send_response(400)
            self.end_headers()
            return
        if self.headers["webhook-id"] in seen:  # a redelivery of one already handled
            print("seen already:", self.headers["webhook-id"], flush=True)
        seen.add(self.headers["webhook-id"])
        print(event.get("sequence", "-"), event["type"], event.get("order_id", ""), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
http.server.HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
