/** For backend implementers: how a store makes itself reachable through {@link io.distkit.id.IdStores}. */
@NullMarked
package io.distkit.id.spi;

import org.jspecify.annotations.NullMarked;
