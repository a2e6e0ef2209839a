"""python -m devserver [--port 8080]: the local site on 127.0.0.1."""
import argparse
import os

from devserver.app import create_app

parser = argparse.ArgumentParser(prog="python -m devserver")
parser.add_argument("--host", default=os.environ.get("DEVSERVER_HOST", "127.0.0.1"))
parser.add_argument("--port", type=int, default=int(os.environ.get("DEVSERVER_PORT", "8080")))
args = parser.parse_args()
create_app().run(host=args.host, port=args.port, threaded=True, use_reloader=False)
