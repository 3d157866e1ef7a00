"""The metrics service's rules: state, decisions and policy, one module per aggregate. No I/O."""
