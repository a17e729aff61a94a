"""Rule types, one class each: base.py the RuleType contract, registry.py the types by name."""
