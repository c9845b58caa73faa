"""One module per message family, each with the `DOCUMENTS` it maps; `mapping` collects them."""
