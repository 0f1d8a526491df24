from cqrs_app.app import create_app
from shop.server import serve

serve(create_app, "cqrs-bench CQRS shop (write database + read database)")
