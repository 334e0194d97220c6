"""The control plane (`/__mock__`) and what it steers: tenants, faults, rate limits, the journal, scenarios."""
