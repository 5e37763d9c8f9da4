"""The Halo side: API client (sign-in, retries, paging, batches), record -> Halo JSON, and the sandbox."""
