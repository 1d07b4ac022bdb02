import sys

from keras_sportsnet.cli import main

sys.exit(main())
