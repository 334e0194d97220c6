"""The state of a mock CRM account and the business rules of each resource."""
