"""The AWS simulator: moto's server on loopback with the Identity Center behaviour moto lacks,
throttling and fault plans, and simulated role sessions. `sandbox.AwsSandbox` is the entry
point."""
