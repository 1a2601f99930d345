def pytest_configure(config):
    config.addinivalue_line(
        "markers", "network: needs the internet (package registries); deselect with -m 'not network'"
    )
