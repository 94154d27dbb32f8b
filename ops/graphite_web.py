"""Debian's graphite-web for the local dashboard, run by Debian's Python (/usr/bin/python3, which has the
graphite and Django packages; the project's venv does not):

    /usr/bin/python3 ops/graphite_web.py SETTINGS_DIR setup < dashboards.json   # database, dashboards
    /usr/bin/python3 ops/graphite_web.py SETTINGS_DIR serve PORT                # render API and UI

SETTINGS_DIR holds ``confab_graphite.py``, graphite-web's local settings (``ops/metrics_stack.py`` writes
it). ``serve`` runs graphite-web's WSGI app on a threaded stdlib server and serves ``/static/`` from the
package's collected files itself (Debian leaves that to Apache). ``setup`` creates graphite-web's own
database and stores each ``{name: state}`` of the JSON on stdin as a graphite-web dashboard.
"""
import json
import mimetypes
import os
import sys
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


def _django(settings_dir):
    sys.path.insert(0, settings_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "graphite.settings"
    os.environ["GRAPHITE_SETTINGS_MODULE"] = "confab_graphite"
    import django
    django.setup()


def setup(dashboards):
    from django.core.management import call_command
    from graphite.dashboard.models import Dashboard
    call_command("migrate", run_syncdb=True, interactive=False, verbosity=0)
    for name, state in dashboards.items():
        Dashboard.objects.update_or_create(name=name, defaults={"state": json.dumps(state)})


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


#: Debian bookworm's graphite-web 1.1.8-2 patched dashboard.js (escaping names) to call ``htmlEncode``,
#: which none of its scripts defines: the dashboard page stops at the first saved dashboard it loads.
#: ExtJS has the function; the file is served with that definition in front.
_PREAMBLE = {"js/dashboard.js": b"function htmlEncode(value) { return Ext.util.Format.htmlEncode(value); }\n"}


def _with_static(app, root):
    root = Path(root).resolve()

    def serve(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/static/"):
            return app(environ, start_response)
        target = (root / path[len("/static/"):]).resolve()
        if root not in target.parents or not target.is_file():
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        start_response("200 OK", [("Content-Type", kind), ("Cache-Control", "max-age=3600")])
        return [_PREAMBLE.get(path[len("/static/"):], b"") + target.read_bytes()]
    return serve


def serve(port):
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    app = _with_static(get_wsgi_application(), settings.STATIC_ROOT)
    with make_server("127.0.0.1", port, app, server_class=_Server, handler_class=_QuietHandler) as server:
        print(f"graphite-web on http://127.0.0.1:{port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    _django(sys.argv[1])
    if sys.argv[2] == "setup":
        setup(json.load(sys.stdin))
    else:
        serve(int(sys.argv[3]))
