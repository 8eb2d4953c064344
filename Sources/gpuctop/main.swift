print("gpuctop")
