(module
 (type $0 (func (param i32) (result i32)))
 (type $1 (func))
 (type $2 (func (param i32)))
 (type $3 (func (param i32 i32)))
 (type $4 (func (param i32 i32 i32)))
 (type $5 (func (param i32 i32) (result i32)))
 (type $6 (func (param i32 i32 i32) (result i32)))
 (type $7 (func (param f64) (result f64)))
 (type $8 (func (param f64 f64 i32 i32) (result i32)))
 (import "env" "memory" (memory $mimport$0 64 64 shared))
 (import "test" "touch" (func $fimport$0 (param i32) (result i32)))
 (import "test" "hook" (func $fimport$1))
 (import "dsm" "__fault" (func $fimport$2 (param i32 i32 i32)))
 (import "dsm" "__poll" (func $fimport$3))
 (global $global$0 (mut i32) (i32.const 0))
 (export "load" (func $0))
 (export "store" (func $1))
 (export "fill" (func $2))
 (export "sum" (func $3))
 (export "scale" (func $4))
 (export "calls" (func $5))
 (func $0 (param $0 i32) (result i32)
  (if
   (i32.and
    (i32.load16_u offset=4096 align=1
     (i32.shr_u
      (i32.add
       (local.get $0)
       (i32.const 8)
      )
      (i32.const 12)
     )
    )
    (i32.const 514)
   )
   (then
    (if
     (i32.and
      (i32.or
       (i32.load8_u offset=4096
        (i32.shr_u
         (i32.add
          (local.get $0)
          (i32.const 8)
         )
         (i32.const 12)
        )
       )
       (i32.load8_u offset=4096
        (i32.shr_u
         (i32.add
          (local.get $0)
          (i32.const 11)
         )
         (i32.const 12)
        )
       )
      )
      (i32.const 2)
     )
     (then
      (call $fimport$2
       (i32.shr_u
        (i32.add
         (local.get $0)
         (i32.const 8)
        )
        (i32.const 12)
       )
       (i32.shr_u
        (i32.add
         (local.get $0)
         (i32.const 11)
        )
        (i32.const 12)
       )
       (i32.const 0)
      )
     )
    )
   )
  )
  (i32.load offset=8
   (local.get $0)
  )
 )
 (func $1 (param $0 i32)
  (local $1 i32)
  (local.set $1
   (call $fimport$0
    (i32.const 1)
   )
  )
  (if
   (i32.load16_u offset=4096 align=1
    (i32.shr_u
     (local.get $0)
     (i32.const 12)
    )
   )
   (then
    (if
     (i32.or
      (i32.load8_u offset=4096
       (i32.shr_u
        (local.get $0)
        (i32.const 12)
       )
      )
      (i32.load8_u offset=4096
       (i32.shr_u
        (i32.add
         (local.get $0)
         (i32.const 3)
        )
        (i32.const 12)
       )
      )
     )
     (then
      (call $fimport$2
       (i32.shr_u
        (local.get $0)
        (i32.const 12)
       )
       (i32.shr_u
        (i32.add
         (local.get $0)
         (i32.const 3)
        )
        (i32.const 12)
       )
       (i32.const 1)
      )
     )
    )
   )
  )
  (i32.store
   (local.get $0)
   (local.get $1)
  )
 )
 (func $2 (param $0 i32) (param $1 i32)
  (drop
   (call $6
    (local.get $0)
    (local.get $1)
    (i32.const 1)
   )
  )
  (memory.fill
   (local.get $0)
   (i32.const 0)
   (local.get $1)
  )
 )
 (func $3 (param $0 i32) (param $1 i32) (result i32)
  (local $2 i32)
  (local $3 i32)
  (local $4 i32)
  (local $5 i32)
  (local $6 i32)
  (block $block1
   (block $block
    (br_if $block
     (f64.lt
      (f64.max
       (f64.const 1)
       (f64.sub
        (f64.convert_i32_u
         (local.get $1)
        )
        (f64.convert_i32_u
         (local.get $2)
        )
       )
      )
      (f64.const 16)
     )
    )
    (global.set $global$0
     (i32.const 0)
    )
    (br_if $block
     (i32.eqz
      (i32.and
       (f64.le
        (f64.add
         (f64.convert_i32_u
          (local.get $2)
         )
         (f64.mul
          (f64.max
           (f64.const 1)
           (f64.sub
            (f64.convert_i32_u
             (local.get $1)
            )
            (f64.convert_i32_u
             (local.get $2)
            )
           )
          )
          (f64.const 1)
         )
        )
        (f64.const 4294967295)
       )
       (call $8
        (call $7
         (f64.add
          (f64.convert_i32_u
           (local.get $0)
          )
          (call $7
           (f64.mul
            (f64.convert_i32_u
             (local.get $2)
            )
            (f64.const 4)
           )
          )
         )
        )
        (call $7
         (f64.add
          (f64.convert_i32_u
           (local.get $0)
          )
          (call $7
           (f64.mul
            (call $7
             (f64.add
              (f64.convert_i32_u
               (local.get $2)
              )
              (call $7
               (f64.mul
                (f64.sub
                 (f64.max
                  (f64.const 1)
                  (f64.sub
                   (f64.convert_i32_u
                    (local.get $1)
                   )
                   (f64.convert_i32_u
                    (local.get $2)
                   )
                  )
                 )
                 (f64.const 1)
                )
                (f64.const 1)
               )
              )
             )
            )
            (f64.const 4)
           )
          )
         )
        )
        (i32.const 4)
        (i32.const 0)
       )
      )
     )
    )
    (loop $label
     (br_if $block
      (i32.atomic.load
       (i32.const 0)
      )
     )
     (local.set $3
      (i32.add
       (local.get $3)
       (i32.load
        (i32.add
         (local.get $0)
         (i32.shl
          (local.get $2)
          (i32.const 2)
         )
        )
       )
      )
     )
     (br_if $label
      (i32.lt_u
       (local.tee $2
        (i32.add
         (local.get $2)
         (i32.const 1)
        )
       )
       (local.get $1)
      )
     )
    )
    (br $block1)
   )
   (block $block4
    (loop $label3
     (block $block5
      (block $block2
       (block $block3
        (loop $label1
         (br_if $block2
          (i32.atomic.load
           (i32.const 0)
          )
         )
         (local.set $3
          (i32.add
           (local.get $3)
           (block (result i32)
            (local.set $5
             (i32.add
              (local.get $0)
              (i32.shl
               (local.get $2)
               (i32.const 2)
              )
             )
            )
            (if
             (i32.and
              (i32.load16_u offset=4096 align=1
               (i32.shr_u
                (local.get $5)
                (i32.const 12)
               )
              )
              (i32.const 514)
             )
             (then
              (br_if $block3
               (i32.and
                (i32.or
                 (i32.load8_u offset=4096
                  (i32.shr_u
                   (local.get $5)
                   (i32.const 12)
                  )
                 )
                 (i32.load8_u offset=4096
                  (i32.shr_u
                   (i32.add
                    (local.get $5)
                    (i32.const 3)
                   )
                   (i32.const 12)
                  )
                 )
                )
                (i32.const 2)
               )
              )
             )
            )
            (i32.load
             (local.get $5)
            )
           )
          )
         )
         (br_if $label1
          (i32.lt_u
           (local.tee $2
            (i32.add
             (local.get $2)
             (i32.const 1)
            )
           )
           (local.get $1)
          )
         )
        )
        (br $block4)
       )
       (loop $label2
        (if
         (i32.and
          (i32.or
           (i32.load8_u offset=4096
            (i32.shr_u
             (local.get $5)
             (i32.const 12)
            )
           )
           (i32.load8_u offset=4096
            (i32.shr_u
             (i32.add
              (local.get $5)
              (i32.const 3)
             )
             (i32.const 12)
            )
           )
          )
          (i32.const 2)
         )
         (then
          (call $fimport$2
           (i32.shr_u
            (local.get $5)
            (i32.const 12)
           )
           (i32.shr_u
            (i32.add
             (local.get $5)
             (i32.const 3)
            )
            (i32.const 12)
           )
           (i32.const 0)
          )
          (br_if $block5
           (i32.ge_u
            (local.tee $4
             (i32.add
              (local.get $4)
              (i32.const 1)
             )
            )
            (i32.const 2)
           )
          )
          (br $label2)
         )
        )
       )
       (br $label3)
      )
      (call $fimport$3)
      (br $label3)
     )
     (local.set $4
      (i32.const 0)
     )
     (local.set $3
      (i32.add
       (local.get $3)
       (block (result i32)
        (local.set $6
         (i32.add
          (local.get $0)
          (i32.shl
           (local.get $2)
           (i32.const 2)
          )
         )
        )
        (if
         (i32.and
          (i32.load16_u offset=4096 align=1
           (i32.shr_u
            (local.get $6)
            (i32.const 12)
           )
          )
          (i32.const 514)
         )
         (then
          (if
           (i32.and
            (i32.or
             (i32.load8_u offset=4096
              (i32.shr_u
               (local.get $6)
               (i32.const 12)
              )
             )
             (i32.load8_u offset=4096
              (i32.shr_u
               (i32.add
                (local.get $6)
                (i32.const 3)
               )
               (i32.const 12)
              )
             )
            )
            (i32.const 2)
           )
           (then
            (call $fimport$2
             (i32.shr_u
              (local.get $6)
              (i32.const 12)
             )
             (i32.shr_u
              (i32.add
               (local.get $6)
               (i32.const 3)
              )
              (i32.const 12)
             )
             (i32.const 0)
            )
           )
          )
         )
        )
        (i32.load
         (local.get $6)
        )
       )
      )
     )
     (br_if $label3
      (i32.lt_u
       (local.tee $2
        (i32.add
         (local.get $2)
         (i32.const 1)
        )
       )
       (local.get $1)
      )
     )
     (br $block4)
    )
    (unreachable)
   )
  )
  (local.get $3)
 )
 (func $4 (param $0 i32) (param $1 i32)
  (local $2 i32)
  (local $3 i32)
  (local $4 i32)
  (local $5 i32)
  (local $6 i32)
  (local $7 i32)
  (local $8 f64)
  (local $9 f64)
  (block $block1
   (block $block
    (br_if $block
     (f64.lt
      (f64.sub
       (f64.convert_i32_s
        (local.get $1)
       )
       (f64.convert_i32_s
        (local.get $2)
       )
      )
      (f64.const 16)
     )
    )
    (global.set $global$0
     (i32.const 0)
    )
    (br_if $block
     (i32.eqz
      (i32.and
       (i32.and
        (f64.le
         (f64.convert_i32_s
          (local.get $2)
         )
         (call $7
          (f64.sub
           (f64.convert_i32_s
            (local.get $1)
           )
           (f64.const 1)
          )
         )
        )
        (f64.le
         (call $7
          (f64.add
           (call $7
            (f64.sub
             (f64.convert_i32_s
              (local.get $1)
             )
             (f64.const 1)
            )
           )
           (f64.const 1)
          )
         )
         (f64.const 2147483647)
        )
       )
       (call $8
        (call $7
         (f64.add
          (f64.convert_i32_u
           (local.get $0)
          )
          (call $7
           (f64.mul
            (f64.convert_i32_s
             (local.get $2)
            )
            (f64.const 8)
           )
          )
         )
        )
        (call $7
         (f64.add
          (f64.convert_i32_u
           (local.get $0)
          )
          (call $7
           (f64.mul
            (call $7
             (f64.sub
              (f64.convert_i32_s
               (local.get $1)
              )
              (f64.const 1)
             )
            )
            (f64.const 8)
           )
          )
         )
        )
        (i32.const 8)
        (i32.const 1)
       )
      )
     )
    )
    (loop $label
     (br_if $block
      (i32.atomic.load
       (i32.const 0)
      )
     )
     (if
      (i32.lt_s
       (local.get $2)
       (local.get $1)
      )
      (then
       (f64.store
        (i32.add
         (local.get $0)
         (i32.shl
          (local.get $2)
          (i32.const 3)
         )
        )
        (f64.mul
         (f64.load
          (i32.add
           (local.get $0)
           (i32.shl
            (local.get $2)
            (i32.const 3)
           )
          )
         )
         (f64.const 2)
        )
       )
       (local.set $2
        (i32.add
         (local.get $2)
         (i32.const 1)
        )
       )
       (br $label)
      )
     )
    )
    (br $block1)
   )
   (block $block4
    (loop $label3
     (block $block5
      (block $block2
       (block $block3
        (loop $label1
         (br_if $block2
          (i32.atomic.load
           (i32.const 0)
          )
         )
         (if
          (i32.lt_s
           (local.get $2)
           (local.get $1)
          )
          (then
           (local.set $5
            (i32.add
             (local.get $0)
             (i32.shl
              (local.get $2)
              (i32.const 3)
             )
            )
           )
           (local.set $4
            (i32.add
             (local.get $0)
             (i32.shl
              (local.get $2)
              (i32.const 3)
             )
            )
           )
           (if
            (i32.and
             (i32.load16_u offset=4096 align=1
              (i32.shr_u
               (local.get $4)
               (i32.const 12)
              )
             )
             (i32.const 514)
            )
            (then
             (br_if $block3
              (i32.and
               (i32.or
                (i32.load8_u offset=4096
                 (i32.shr_u
                  (local.get $4)
                  (i32.const 12)
                 )
                )
                (i32.load8_u offset=4096
                 (i32.shr_u
                  (i32.add
                   (local.get $4)
                   (i32.const 7)
                  )
                  (i32.const 12)
                 )
                )
               )
               (i32.const 2)
              )
             )
            )
           )
           (if
            (i32.load16_u offset=4096 align=1
             (i32.shr_u
              (local.get $5)
              (i32.const 12)
             )
            )
            (then
             (br_if $block3
              (i32.or
               (i32.load8_u offset=4096
                (i32.shr_u
                 (local.get $5)
                 (i32.const 12)
                )
               )
               (i32.load8_u offset=4096
                (i32.shr_u
                 (i32.add
                  (local.get $5)
                  (i32.const 7)
                 )
                 (i32.const 12)
                )
               )
              )
             )
            )
           )
           (local.set $8
            (f64.mul
             (f64.load
              (local.get $4)
             )
             (f64.const 2)
            )
           )
           (f64.store
            (local.get $5)
            (local.get $8)
           )
           (local.set $2
            (i32.add
             (local.get $2)
             (i32.const 1)
            )
           )
           (br $label1)
          )
         )
        )
        (br $block4)
       )
       (loop $label2
        (if
         (i32.and
          (i32.or
           (i32.load8_u offset=4096
            (i32.shr_u
             (local.get $4)
             (i32.const 12)
            )
           )
           (i32.load8_u offset=4096
            (i32.shr_u
             (i32.add
              (local.get $4)
              (i32.const 7)
             )
             (i32.const 12)
            )
           )
          )
          (i32.const 2)
         )
         (then
          (call $fimport$2
           (i32.shr_u
            (local.get $4)
            (i32.const 12)
           )
           (i32.shr_u
            (i32.add
             (local.get $4)
             (i32.const 7)
            )
            (i32.const 12)
           )
           (i32.const 0)
          )
          (br_if $block5
           (i32.ge_u
            (local.tee $3
             (i32.add
              (local.get $3)
              (i32.const 1)
             )
            )
            (i32.const 2)
           )
          )
          (br $label2)
         )
        )
        (if
         (i32.or
          (i32.load8_u offset=4096
           (i32.shr_u
            (local.get $5)
            (i32.const 12)
           )
          )
          (i32.load8_u offset=4096
           (i32.shr_u
            (i32.add
             (local.get $5)
             (i32.const 7)
            )
            (i32.const 12)
           )
          )
         )
         (then
          (call $fimport$2
           (i32.shr_u
            (local.get $5)
            (i32.const 12)
           )
           (i32.shr_u
            (i32.add
             (local.get $5)
             (i32.const 7)
            )
            (i32.const 12)
           )
           (i32.const 1)
          )
          (br_if $block5
           (i32.ge_u
            (local.tee $3
             (i32.add
              (local.get $3)
              (i32.const 1)
             )
            )
            (i32.const 2)
           )
          )
          (br $label2)
         )
        )
       )
       (br $label3)
      )
      (call $fimport$3)
      (br $label3)
     )
     (local.set $3
      (i32.const 0)
     )
     (if
      (i32.lt_s
       (local.get $2)
       (local.get $1)
      )
      (then
       (local.set $7
        (i32.add
         (local.get $0)
         (i32.shl
          (local.get $2)
          (i32.const 3)
         )
        )
       )
       (local.set $6
        (i32.add
         (local.get $0)
         (i32.shl
          (local.get $2)
          (i32.const 3)
         )
        )
       )
       (if
        (i32.and
         (i32.load16_u offset=4096 align=1
          (i32.shr_u
           (local.get $6)
           (i32.const 12)
          )
         )
         (i32.const 514)
        )
        (then
         (if
          (i32.and
           (i32.or
            (i32.load8_u offset=4096
             (i32.shr_u
              (local.get $6)
              (i32.const 12)
             )
            )
            (i32.load8_u offset=4096
             (i32.shr_u
              (i32.add
               (local.get $6)
               (i32.const 7)
              )
              (i32.const 12)
             )
            )
           )
           (i32.const 2)
          )
          (then
           (call $fimport$2
            (i32.shr_u
             (local.get $6)
             (i32.const 12)
            )
            (i32.shr_u
             (i32.add
              (local.get $6)
              (i32.const 7)
             )
             (i32.const 12)
            )
            (i32.const 0)
           )
          )
         )
        )
       )
       (local.set $9
        (f64.mul
         (f64.load
          (local.get $6)
         )
         (f64.const 2)
        )
       )
       (if
        (i32.load16_u offset=4096 align=1
         (i32.shr_u
          (local.get $7)
          (i32.const 12)
         )
        )
        (then
         (if
          (i32.or
           (i32.load8_u offset=4096
            (i32.shr_u
             (local.get $7)
             (i32.const 12)
            )
           )
           (i32.load8_u offset=4096
            (i32.shr_u
             (i32.add
              (local.get $7)
              (i32.const 7)
             )
             (i32.const 12)
            )
           )
          )
          (then
           (call $fimport$2
            (i32.shr_u
             (local.get $7)
             (i32.const 12)
            )
            (i32.shr_u
             (i32.add
              (local.get $7)
              (i32.const 7)
             )
             (i32.const 12)
            )
            (i32.const 1)
           )
          )
         )
        )
       )
       (f64.store
        (local.get $7)
        (local.get $9)
       )
       (local.set $2
        (i32.add
         (local.get $2)
         (i32.const 1)
        )
       )
       (br $label3)
      )
     )
     (br $block4)
    )
    (unreachable)
   )
  )
 )
 (func $5 (param $0 i32)
  (local $1 i32)
  (loop $label
   (if
    (i32.atomic.load
     (i32.const 0)
    )
    (then
     (call $fimport$3)
    )
   )
   (drop
    (call $fimport$0
     (local.get $1)
    )
   )
   (br_if $label
    (i32.lt_u
     (local.tee $1
      (i32.add
       (local.get $1)
       (i32.const 1)
      )
     )
     (local.get $0)
    )
   )
  )
 )
 (func $6 (param $0 i32) (param $1 i32) (param $2 i32) (result i32)
  (local $3 i32)
  (local $4 i32)
  (local $5 i32)
  (local $6 i32)
  (if
   (i32.eqz
    (local.get $1)
   )
   (then
    (return
     (i32.const 0)
    )
   )
  )
  (local.set $4
   (i32.shr_u
    (local.get $0)
    (i32.const 12)
   )
  )
  (local.set $5
   (i32.shr_u
    (i32.add
     (local.get $0)
     (i32.sub
      (local.get $1)
      (i32.const 1)
     )
    )
    (i32.const 12)
   )
  )
  (local.set $3
   (local.get $4)
  )
  (local.set $6
   (select
    (i32.const 255)
    (i32.const 2)
    (local.get $2)
   )
  )
  (loop $label
   (if
    (i32.and
     (i32.load8_u offset=4096
      (local.get $3)
     )
     (local.get $6)
    )
    (then
     (call $fimport$2
      (local.get $4)
      (local.get $5)
      (local.get $2)
     )
     (return
      (i32.const 1)
     )
    )
   )
   (local.set $3
    (i32.add
     (local.get $3)
     (i32.const 1)
    )
   )
   (br_if $label
    (i32.le_u
     (local.get $3)
     (local.get $5)
    )
   )
  )
  (i32.const 0)
 )
 (func $7 (param $0 f64) (result f64)
  (if
   (i32.eqz
    (f64.lt
     (f64.abs
      (local.get $0)
     )
     (f64.const 9007199254740992)
    )
   )
   (then
    (global.set $global$0
     (i32.const 1)
    )
   )
  )
  (local.get $0)
 )
 (func $8 (param $0 f64) (param $1 f64) (param $2 i32) (param $3 i32) (result i32)
  (local $4 f64)
  (local $5 f64)
  (local $6 i32)
  (local $7 i32)
  (local $8 i32)
  (if
   (global.get $global$0)
   (then
    (return
     (i32.const 0)
    )
   )
  )
  (local.set $4
   (f64.min
    (local.get $0)
    (local.get $1)
   )
  )
  (local.set $5
   (f64.add
    (f64.max
     (local.get $0)
     (local.get $1)
    )
    (f64.convert_i32_u
     (i32.sub
      (local.get $2)
      (i32.const 1)
     )
    )
   )
  )
  (if
   (i32.eqz
    (i32.and
     (f64.ge
      (local.get $4)
      (f64.const 0)
     )
     (f64.le
      (local.get $5)
      (f64.const 4294967295)
     )
    )
   )
   (then
    (return
     (i32.const 0)
    )
   )
  )
  (local.set $6
   (i32.shr_u
    (i32.trunc_f64_u
     (local.get $4)
    )
    (i32.const 12)
   )
  )
  (local.set $7
   (i32.shr_u
    (i32.trunc_f64_u
     (local.get $5)
    )
    (i32.const 12)
   )
  )
  (local.set $8
   (select
    (i32.const 50529027)
    (i32.const 33686018)
    (local.get $3)
   )
  )
  (block $block
   (loop $label
    (br_if $block
     (i32.gt_u
      (i32.add
       (local.get $6)
       (i32.const 3)
      )
      (local.get $7)
     )
    )
    (if
     (i32.and
      (i32.load offset=4096 align=1
       (local.get $6)
      )
      (local.get $8)
     )
     (then
      (return
       (i32.const 0)
      )
     )
    )
    (local.set $6
     (i32.add
      (local.get $6)
      (i32.const 4)
     )
    )
    (br $label)
   )
   (unreachable)
  )
  (block $block1
   (loop $label1
    (br_if $block1
     (i32.gt_u
      (local.get $6)
      (local.get $7)
     )
    )
    (if
     (i32.and
      (i32.load8_u offset=4096
       (local.get $6)
      )
      (local.get $8)
     )
     (then
      (return
       (i32.const 0)
      )
     )
    )
    (local.set $6
     (i32.add
      (local.get $6)
      (i32.const 1)
     )
    )
    (br $label1)
   )
   (unreachable)
  )
  (i32.const 1)
 )
)
