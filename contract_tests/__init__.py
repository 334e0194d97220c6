"""The contract harness: Schemathesis runs of spec/openapi.yaml against the mock or a real Fintesk account."""
