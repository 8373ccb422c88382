"""Run a generated server over HTTPS (uvicorn's ssl_certfile / ssl_keyfile), for the TLS test.

    python -m tests.contract.tls_server --package generated_server.arsel --config C --db D \
        --port P --certfile server.pem --keyfile server.key
"""

from __future__ import annotations

import argparse
import importlib

import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("--package", "--config", "--db", "--certfile", "--keyfile"):
        parser.add_argument(name, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = importlib.import_module(f"{args.package}.app").create_app(
        args.config, args.db, worker=False, access_log=False
    )
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="info",
        ssl_certfile=args.certfile,
        ssl_keyfile=args.keyfile,
    )


if __name__ == "__main__":
    main()
