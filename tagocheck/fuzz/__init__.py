"""`tagocheck fuzz`: Schemathesis with any TagoIO-compatible OpenAPI file, its known defects
worked around and said, and every response judged by tagocheck's own checks."""
