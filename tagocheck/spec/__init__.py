"""The contract as data: the schemas of schemas/ loaded and resolved, the route table, the
token-permission matrix, the rate-limit plans, the examples, and the OpenAPI file rendered from
them. Read by everything that judges; imports nothing that judges."""
