from chalice import Chalice

app = Chalice(app_name="ipgate-sample")


@app.route("/")
def index():
    return {"hello": "world"}
