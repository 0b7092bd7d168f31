"""vae_edu: the library behind the autoencoder and VAE course notebooks."""

__version__ = "0.1.0"
