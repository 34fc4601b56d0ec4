print("portecho")
