from baseline_app.app import create_app
from shop.server import serve

serve(create_app, "cqrs-bench baseline shop (one database, one pool)")
