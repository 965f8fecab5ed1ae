"""Feed adapters: each turns one delivered file into validated raw rows and quarantined rejects."""
