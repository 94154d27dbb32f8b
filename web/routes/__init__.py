"""REST blueprints, one per resource."""
