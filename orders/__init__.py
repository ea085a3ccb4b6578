"""Orders around the engine: pickup in store with a real promise, shipping, returns
(issue 14). The pure rules live here beside the services that use them."""
