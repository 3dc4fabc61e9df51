"""The Application API: its types and parsing, the CRDs, tenancy rules, install manifests."""
