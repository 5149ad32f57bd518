"""Template filters for the query results table."""
from django import template

register = template.Library()


@register.filter
def top_class(result: dict, classifier_name: str) -> tuple:
    """(class, probability) that the results carry for one classifier."""
    return result.get(f"{classifier_name}_class"), result.get(f"{classifier_name}_probability")
