"""The accounting side: one module per package, each declaring its streams over the package's real tables."""
