"""python -m devserver [--port 8080] [--local-api] [--reload]: the local site on 127.0.0.1."""

import argparse
import os

from devserver.app import create_app

parser = argparse.ArgumentParser(prog="python -m devserver")
parser.add_argument("--host", default=os.environ.get("DEVSERVER_HOST", "127.0.0.1"))
parser.add_argument("--port", type=int, default=int(os.environ.get("DEVSERVER_PORT", "8080")))
parser.add_argument("--local-api", action="store_true", help="serve the API handler in-process under /api")
parser.add_argument("--reload", action="store_true", help="restart on code changes (Flask's reloader)")
args = parser.parse_args()
create_app(local_api=args.local_api).run(host=args.host, port=args.port, threaded=True, use_reloader=args.reload)
