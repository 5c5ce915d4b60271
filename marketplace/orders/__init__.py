"""Orders: the cart across producers (checkout, orders and sub-orders come next)."""
