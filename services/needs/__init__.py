"""needs: residents' needs, review into the project library, claims, completion, confirmation."""
