"""What both shop apps share: request models, errors, the checkout transaction, serving."""
