"""gRPC translation: requests in, service calls, responses or mapped errors out."""
