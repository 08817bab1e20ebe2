import Hummingbird
import RouterCore
