# Placeholder: replaced by the CSV import/export work.
from flask import Blueprint

bp = Blueprint("farm_csv", __name__, url_prefix="/farm/catalogue")


@bp.route("/import")
def import_form():
    return "todo"


@bp.route("/export.csv")
def export():
    return "todo"
