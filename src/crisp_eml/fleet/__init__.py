"""Fleet: signed, deployable bundles for one target (and, later, OTA rollouts)."""
