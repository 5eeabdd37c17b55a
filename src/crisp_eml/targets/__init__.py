"""Target devices: the catalog of MCUs and hosts used for estimates, profiles and gates."""
