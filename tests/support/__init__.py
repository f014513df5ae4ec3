"""What tests share: the only module any test imports besides Speak Up itself."""
