# C declaration of the reusable event (simulation/events.py): the compiled session step
# books a dyad's next session with a C method call (Wake.book_at), no Python frame.
cimport cython

@cython.final
cdef class Wake:
    cdef public object env
    cdef public object callbacks
    cdef public list again
    cdef public bint _ok
    cdef public object _value
    cdef public double at
    cdef list _queue
    cdef object _eid
    cpdef void book(self, object delay)
    cpdef void book_at(self, double at)
