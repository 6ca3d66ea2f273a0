"""`python -m botwarden.demo [--host H] [--port P]`: serve the demo shop with uvicorn."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the Botwarden demo shop.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    serve(args.host, args.port)


def serve(host: str = "127.0.0.1", port: int = 8080) -> None:
    import uvicorn

    from botwarden.demo.app import create_app

    uvicorn.run(create_app(), host=host, port=port, loop="uvloop", http="httptools",
                ws="none", lifespan="off", access_log=False, log_level="warning")  # fmt: skip


if __name__ == "__main__":
    main()
