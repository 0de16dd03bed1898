"""Start one component under uvicorn with its settings; a bad setting stops startup with a clear line."""

import importlib
import logging
import sys

import uvicorn
from pydantic import ValidationError

from stackyard.common import logs


def _explain(component: str, error: ValidationError) -> str:
    lines = [f"stackyard {component}: invalid configuration"]
    for item in error.errors():
        field = ".".join(str(part) for part in item.get("loc", ()))
        variable = f"STACKYARD_{field.upper()}" if field else "(settings)"
        lines.append(f"  {variable}: {item.get('msg')}")
    return "\n".join(lines)


def serve(component: str) -> int:
    module = importlib.import_module(f"stackyard.{component}.app")
    try:
        settings = module.Settings()
    except ValidationError as error:
        print(_explain(component, error), file=sys.stderr)
        return 2
    logs.configure(component, settings.log_level)
    logging.getLogger("stackyard").info(f"starting {component} on port {settings.port}")
    uvicorn.run(
        module.build_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.drain_seconds),
    )
    return 0
