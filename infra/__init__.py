"""Data mesh provisioner: blueprints -> governed AWS data products (Pulumi program + tools)."""
