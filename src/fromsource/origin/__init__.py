"""Origin: prove an sdist is its tagged source tree plus only what packaging tools generate."""
