"""The Xquik service as the plugin sees it: the management client, its retries, and the fake.

``admin`` and ``retry`` talk to the service (real or fake); ``fake`` is the
in-process copy of it that mock mode serves; ``intercept`` routes the
process's httpx traffic to the fake, and ``coexist`` keeps other HTTP mocks
away from the base URL.
"""
