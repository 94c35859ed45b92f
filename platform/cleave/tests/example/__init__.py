"""Two throwaway contexts for the kernel's own tests: `orders` publishes, `shipping` listens."""
